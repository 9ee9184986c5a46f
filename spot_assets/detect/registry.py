"""Every detector, by data type: what the findings assets run and `spot evaluate` reports."""

from spot_assets.detect import dns, flow, proxy

DETECTORS = {"flow": flow.DETECTORS, "dns": dns.DETECTORS, "proxy": proxy.DETECTORS}
