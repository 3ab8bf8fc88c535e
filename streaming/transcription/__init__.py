"""Transcription: engines (offline and hosted), post-call transcripts and live transcripts."""
