"""Behaviour detectors: what finds the attacks that Spot's LDA rarity alone ranks at chance.

Each detector reads one day of a type's decoded events (pandas, in process) and returns findings:
an entity (see `spot_assets.datatypes`), a score in [0, 1], a reason in words and numbers, and the
evidence behind it. `base` holds the contract, `beacon` the periodicity scoring that flow, DNS and
proxy share, and one module per type holds that type's detectors.
"""
