"""The broadcast workstation: compose, target, approve, transmit and monitor public warnings."""
