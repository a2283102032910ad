"""A stand-in for a data product's Dagster definitions: one asset and one job materialising it.

The tests install this file under each product's module path (``sales.definitions``...), so a
code location's rendered ``dagster api grpc -m <module>`` command runs unchanged without the
product's image.
"""

import dagster as dg


@dg.asset
def orders() -> int:
    return 3


orders_job = dg.define_asset_job("orders_job", selection=[orders])

defs = dg.Definitions(assets=[orders], jobs=[orders_job])
