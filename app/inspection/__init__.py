"""The Inspection panel: a user's sessions, and the top-K of chosen runs at each step of the test session."""
from app.inspection.inspection_panel import InspectionPanel

__all__ = ["InspectionPanel"]
