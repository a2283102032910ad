"""cdk8s entry point: render every environment into dist/ (or $CDK8S_OUTDIR)."""

import gc

from floe.synth import main

if __name__ == "__main__":
    code = main()
    # The process ends here: frozen, the render's objects are not walked again by the interpreter's last
    # collection on the way out (a tenth of a render's time).
    gc.freeze()
    raise SystemExit(code)
