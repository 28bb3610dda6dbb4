"""The module-scoped server fixture keeps state across the tests of one module."""

from kubernetes import client

from devstack.kubeapi.pytest_plugin import kubeapi_module  # noqa: F401 - fixture


def test_first_writer(kubeapi_module):  # noqa: F811
    api = client.CoreV1Api(kubeapi_module.client())
    api.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="shared")))


def test_second_reader_sees_it(kubeapi_module):  # noqa: F811
    api = client.CoreV1Api(kubeapi_module.client())
    assert api.read_namespaced_config_map("shared", "default").metadata.name == "shared"
