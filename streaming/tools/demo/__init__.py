"""Demo calls for a first look: real speech recorded and transcribed the way RingCX calls are."""
