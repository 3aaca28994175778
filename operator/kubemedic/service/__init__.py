"""Use cases that combine clients (I/O) and domain (pure logic); handlers call these."""
