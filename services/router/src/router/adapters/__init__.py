"""Adapters of the router: the outside world behind the service's ports."""
