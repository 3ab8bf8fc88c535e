"""``python -m tests.doubles.fake_speech --port 8930``: the fake, to try a configuration."""

from .cli import main

if __name__ == "__main__":
    main()
