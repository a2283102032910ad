"""A small, source-faithful model of the two GitOps engines and of the cluster they drive.

``apiserver``  what the Kubernetes API server stores for an applied object (server-side apply merge,
               defaulting, canonical quantities, immutable fields) and the controllers that fill
               ``status`` (Deployment, StatefulSet, Job, PVC binding, HPA, Ingress, Argo Rollout, ...).
``openapi``    the schema facts both the server and the diff need: list types, Quantity fields.
``quantity``   ``resource.Quantity``'s canonical serialisation.
``argocd``     Argo CD's health rules and sync loop (gitops-engine) and its structured-merge diff.
``flux``       kustomize-controller: dependsOn, staged server-side apply, kstatus health, CEL checks.
``cel``        the subset of CEL that Flux health expressions use.
``source``     the git checkout both engines read (paths → YAML documents) and what each builds.

Each rule names the upstream file it follows; the commits read are in each module's docstring.
Everything is plain functions over dicts, driven only by the rendered objects: sync-wave and hook
annotations, Kustomization ``spec.path``/``dependsOn``/``wait``/``healthCheckExprs``, each folder's
``kustomization.yaml``; never by folder names.
"""
