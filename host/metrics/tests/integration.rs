//! Integration tests of gantry-metrics against a real Prometheus scraping the simulator.
