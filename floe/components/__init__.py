"""One module per platform component: only what is particular to it (see ``floe.registry``)."""
