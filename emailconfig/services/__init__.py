"""The verbs of Stagemail, one module per concern; views and commands are thin callers."""
