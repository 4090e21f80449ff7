"""The learner's widgets (ipywidgets 8). Imported by notebooks only, never by the rest of the kit.

    from promptatelier.widgets import Playground
    Playground()
"""

from .chat import Chat
from .check import ExerciseCheck
from .compare import Compare
from .cost import CostMeter
from .keys import KeyEntry
from .playground import Playground
from .tokens import TokenExplorer

__all__ = ["Playground", "Compare", "ExerciseCheck", "Chat", "KeyEntry", "CostMeter", "TokenExplorer"]
