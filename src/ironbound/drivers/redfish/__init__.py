"""The ``redfish`` power and management interfaces, built on sushy.

`client` reads the node's driver_info, keeps one sushy connection per BMC and
turns every sushy or transport failure into an Ironbound error; `power` and
`management` are the interfaces the registry loads by entry point.
"""
