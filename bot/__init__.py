"""mentorbox: an inbox triage bot for people who suddenly get more mail than they can answer."""

__version__ = "0.1.0"
