import sys
from pathlib import Path

# Tests import the shared helpers in tests/ (corpus, references) as top-level modules.
sys.path.insert(0, str(Path(__file__).resolve().parent))
