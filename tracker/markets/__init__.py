"""Exchanges, pairs, metrics and their time series: the store, its writes and its reads."""
