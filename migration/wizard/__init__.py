"""The migration wizard's logic, independent of HTTP: steps, maps, review and submit."""
