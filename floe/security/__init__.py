"""What may talk to what, and who may do what: NetworkPolicies and RBAC from declared dependencies."""
