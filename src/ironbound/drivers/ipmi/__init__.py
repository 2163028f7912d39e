"""The ``ipmi`` power and management interfaces, built on pyghmi.

`client` reads the node's driver_info, shares one IPMI session per BMC among the
calls that run at the same time and turns every pyghmi or socket failure into an
Ironbound error; `power` and `management` are the interfaces the registry loads.
"""
