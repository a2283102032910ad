"""cdk8s entry point: render every environment into dist/ (or $CDK8S_OUTDIR)."""

from floe.synth import main

if __name__ == "__main__":
    raise SystemExit(main())
