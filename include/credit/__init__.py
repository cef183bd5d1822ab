"""Jiangyin industry + credit (行业+信用) data platform."""
