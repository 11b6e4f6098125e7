"""Call recording: both parties to WAV (PCM16, A-law, mu-law) or FLAC, off the tick.

See writer.py for the threading, the crash-safety and the slow-disk policy.
"""

from appliance.recording.writer import (FORMATS, LAYOUTS, CallRecording, RecordingWriter,
                                        recover)

__all__ = ["FORMATS", "LAYOUTS", "CallRecording", "RecordingWriter", "recover"]
