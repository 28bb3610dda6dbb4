"""Tenant Kubernetes clusters through Cluster API: Kamaji control planes, capmox workers on Proxmox."""
