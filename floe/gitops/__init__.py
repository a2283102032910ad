"""GitOps wiring: what Argo CD and Flux need to apply an environment's rendered tree in order.

These objects live in ``dist/gitops/<env>/``, outside the synced ``dist/<env>/`` folder, so an
engine never syncs (or prunes) the objects that drive it.
"""
