"""Test doubles: local fakes of outside services that only the tests use."""
