"""The window's workflows, one small controller each; ``MainWindow`` builds and wires them.

Each asks the core through ``core_api.CoreAPI`` only, runs blocking calls off the GUI thread,
and talks to the person through its ``host`` (the window: selection, status bar, dialogs' parent).
"""
