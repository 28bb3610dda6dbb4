"""Built-in kinds through the real CoreV1Api: CRUD, error Status bodies, selectors, paging, auth."""

import base64
import json

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from devstack.kubeapi import FakeKubeAPI


def _secret(name, labels=None, data=None):
    return client.V1Secret(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        string_data=data or {"value": "s3cr3t"},
    )


def test_namespace_create_read_list_delete(core):
    created = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="tenant-a")))
    assert created.status.phase == "Active"
    assert created.metadata.uid
    assert created.metadata.labels["kubernetes.io/metadata.name"] == "tenant-a"
    names = [ns.metadata.name for ns in core.list_namespace().items]
    assert "tenant-a" in names and "default" in names

    core.delete_namespace("tenant-a")
    with pytest.raises(ApiException) as err:
        core.read_namespace("tenant-a")
    assert err.value.status == 404


def test_secret_crud_and_string_data_encoding(core):
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="t1")))
    created = core.create_namespaced_secret("t1", _secret("c1-kubeconfig", data={"value": "apiVersion: v1"}))
    assert created.type == "Opaque"
    assert created.string_data is None
    assert base64.b64decode(created.data["value"]).decode() == "apiVersion: v1"

    read = core.read_namespaced_secret("c1-kubeconfig", "t1")
    assert read.metadata.resource_version == created.metadata.resource_version

    read.metadata.labels = {"portal/cluster": "c1"}
    replaced = core.replace_namespaced_secret("c1-kubeconfig", "t1", read)
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)

    patched = core.patch_namespaced_secret("c1-kubeconfig", "t1", {"metadata": {"annotations": {"a": "b"}}})
    assert patched.metadata.annotations == {"a": "b"}
    assert patched.metadata.labels == {"portal/cluster": "c1"}

    core.delete_namespaced_secret("c1-kubeconfig", "t1")
    assert core.list_namespaced_secret("t1").items == []


def test_not_found_status_body_matches_real_server(core):
    with pytest.raises(ApiException) as err:
        core.read_namespaced_secret("missing", "default")
    assert err.value.status == 404
    assert err.value.reason == "Not Found"
    body = json.loads(err.value.body)
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'secrets "missing" not found',
        "reason": "NotFound",
        "details": {"name": "missing", "kind": "secrets"},
        "code": 404,
    }


def test_create_twice_is_409_already_exists(core):
    core.create_namespaced_secret("default", _secret("dup"))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_secret("default", _secret("dup"))
    assert err.value.status == 409
    body = json.loads(err.value.body)
    assert body["reason"] == "AlreadyExists"
    assert body["message"] == 'secrets "dup" already exists'


def test_create_in_missing_namespace_is_404_namespace(core):
    with pytest.raises(ApiException) as err:
        core.create_namespaced_secret("nope", _secret("x"))
    body = json.loads(err.value.body)
    assert err.value.status == 404
    assert body["message"] == 'namespaces "nope" not found'
    assert body["details"] == {"name": "nope", "kind": "namespaces"}


def test_stale_resource_version_is_409_conflict(core):
    first = core.create_namespaced_config_map(
        "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm"), data={"a": "1"})
    )
    stale_rv = first.metadata.resource_version
    first.data = {"a": "2"}
    core.replace_namespaced_config_map("cm", "default", first)

    first.metadata.resource_version = stale_rv
    first.data = {"a": "3"}
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("cm", "default", first)
    assert err.value.status == 409
    assert json.loads(err.value.body)["reason"] == "Conflict"
    assert core.read_namespaced_config_map("cm", "default").data == {"a": "2"}


def test_label_selectors(core):
    labels = {
        "a": {"tier": "web", "env": "prod"},
        "b": {"tier": "db", "env": "prod"},
        "c": {"tier": "web", "env": "dev", "canary": "yes"},
        "d": {},
    }
    for name, value in labels.items():
        core.create_namespaced_config_map(
            "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=value or None))
        )

    def names(selector):
        return sorted(
            cm.metadata.name for cm in core.list_namespaced_config_map("default", label_selector=selector).items
        )

    assert names("tier=web") == ["a", "c"]
    assert names("tier==web,env=prod") == ["a"]
    assert names("tier!=web") == ["b", "d"]
    assert names("env in (prod, dev)") == ["a", "b", "c"]
    assert names("env notin (prod)") == ["c", "d"]
    assert names("canary") == ["c"]
    assert names("!canary") == ["a", "b", "d"]
    with pytest.raises(ApiException) as err:
        names("tier in (web")
    assert err.value.status == 400


def test_field_selectors_and_cross_namespace_list(core):
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="other")))
    core.create_namespaced_secret("default", _secret("s1"))
    core.create_namespaced_secret("other", _secret("s1"))
    core.create_namespaced_secret("other", _secret("s2"))

    everywhere = core.list_secret_for_all_namespaces()
    assert sorted((s.metadata.namespace, s.metadata.name) for s in everywhere.items) == [
        ("default", "s1"),
        ("other", "s1"),
        ("other", "s2"),
    ]
    by_name = core.list_secret_for_all_namespaces(field_selector="metadata.name=s1")
    assert sorted(s.metadata.namespace for s in by_name.items) == ["default", "other"]
    by_ns = core.list_secret_for_all_namespaces(field_selector="metadata.namespace!=default")
    assert sorted(s.metadata.name for s in by_ns.items) == ["s1", "s2"]
    with pytest.raises(ApiException) as err:
        core.list_secret_for_all_namespaces(field_selector="spec.foo=bar")
    assert err.value.status == 400


def test_limit_and_continue_paging(core):
    for index in range(5):
        core.create_namespaced_config_map(
            "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"cm-{index}"))
        )
    seen, token = [], None
    while True:
        page = core.list_namespaced_config_map("default", limit=2, _continue=token)
        seen += [cm.metadata.name for cm in page.items]
        assert len(page.items) <= 2
        token = page.metadata._continue
        if not token:
            break
    assert seen == [f"cm-{i}" for i in range(5)]
    assert int(page.metadata.resource_version) >= 5


def test_list_resource_version_tracks_writes(core):
    before = int(core.list_namespaced_secret("default").metadata.resource_version)
    core.create_namespaced_secret("default", _secret("rv"))
    after = int(core.list_namespaced_secret("default").metadata.resource_version)
    assert after == before + 1


def test_wrong_token_is_401_status(kubeapi):
    configuration = client.Configuration()
    configuration.host = kubeapi.url
    configuration.api_key = {"authorization": "not-the-token"}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    with client.ApiClient(configuration) as api_client, pytest.raises(ApiException) as err:
        client.CoreV1Api(api_client).list_namespace()
    assert err.value.status == 401
    assert json.loads(err.value.body)["reason"] == "Unauthorized"


def test_kubeconfig_round_trip(kubeapi, tmp_path):
    path = kubeapi.write_kubeconfig(tmp_path / "kubeconfig")
    assert path.stat().st_mode & 0o777 == 0o600
    api_client = config.new_client_from_config(config_file=str(path))
    assert [ns.metadata.name for ns in client.CoreV1Api(api_client).list_namespace().items] == [
        "default",
        "kube-public",
        "kube-system",
    ]
    from_dict = config.new_client_from_config_dict(kubeapi.kubeconfig_dict())
    assert client.VersionApi(from_dict).get_code().git_version.startswith("v1.")


def test_watch_is_rejected_with_405(core):
    with pytest.raises(ApiException) as err:
        core.list_namespaced_secret("default", watch=True, _preload_content=False)
    assert err.value.status == 405


def test_deployment_status_is_readable(kubeapi, kube_client):
    kubeapi.load_objects(
        [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "capmox-controller-manager", "namespace": "capmox-system"},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "capmox"}}, "template": {}},
                "status": {"readyReplicas": 1, "replicas": 1},
            }
        ]
    )
    deployment = client.AppsV1Api(kube_client).read_namespaced_deployment("capmox-controller-manager", "capmox-system")
    assert deployment.status.ready_replicas == 1
    assert deployment.metadata.generation == 1


def test_start_stop_is_fast():
    import time

    started = time.perf_counter()
    server = FakeKubeAPI().start()
    server.stop()
    assert time.perf_counter() - started < 0.1


def test_dry_run_create_and_delete_store_nothing(core):
    before = core.list_namespaced_secret("default").metadata.resource_version
    preview = core.create_namespaced_secret("default", _secret("preview"), dry_run="All")
    assert preview.metadata.name == "preview"
    with pytest.raises(ApiException) as err:
        core.read_namespaced_secret("preview", "default")
    assert err.value.status == 404
    core.create_namespaced_secret("default", _secret("real"))
    core.delete_namespaced_secret("real", "default", dry_run="All")
    assert core.read_namespaced_secret("real", "default").metadata.name == "real"
    assert int(core.list_namespaced_secret("default").metadata.resource_version) == int(before) + 1


def test_delete_precondition_on_resource_version(core):
    created = core.create_namespaced_secret("default", _secret("guarded"))
    with pytest.raises(ApiException) as err:
        core.delete_namespaced_secret(
            "guarded",
            "default",
            body=client.V1DeleteOptions(preconditions=client.V1Preconditions(resource_version="1")),
        )
    assert err.value.status == 409
    core.delete_namespaced_secret(
        "guarded",
        "default",
        body=client.V1DeleteOptions(
            preconditions=client.V1Preconditions(resource_version=created.metadata.resource_version)
        ),
    )


def test_secret_and_configmap_typed_decoding_errors(core):
    with pytest.raises(ApiException) as err:
        core.create_namespaced_secret(
            "default", client.V1Secret(metadata=client.V1ObjectMeta(name="bad"), data={"k": "not base64!"})
        )
    assert err.value.status == 400
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(
            "default", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bad"}, "data": {"n": 1}}
        )
    assert err.value.status == 400
    assert "cannot unmarshal number" in json.loads(err.value.body)["message"]


def test_secret_type_is_immutable(core):
    core.create_namespaced_secret("default", _secret("typed"))
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_secret("typed", "default", {"type": "kubernetes.io/tls"})
    assert err.value.status == 422
    assert json.loads(err.value.body)["details"]["causes"][0]["field"] == "type"


def test_delete_answers_status_or_object_like_upstream(core):
    core.create_namespaced_secret("default", _secret("gone"))
    status = core.delete_namespaced_secret("gone", "default")
    assert status.status == "Success"
    assert status.details.name == "gone" and status.details.kind == "secrets"

    core.create_namespaced_service("default", client.V1Service(metadata=client.V1ObjectMeta(name="svc")))
    deleted = core.api_client.call_api(
        "/api/v1/namespaces/default/services/svc",
        "DELETE",
        auth_settings=["BearerToken"],
        response_type="object",
        _return_http_data_only=True,
    )
    assert deleted["kind"] == "Service" and deleted["spec"]["clusterIP"].startswith("10.96.")
