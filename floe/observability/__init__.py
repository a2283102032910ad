"""What Prometheus collects from each exporter, and the Grafana dashboards built on it."""
