"""Developer scripts: the local runner and the demo data generator."""
