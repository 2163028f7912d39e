"""The `managed` storage interface: boot volumes Ironbound creates and exports itself."""
