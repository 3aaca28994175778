"""Pydantic models: the Incident CRD, IncidentBundle, Diagnosis and typed actions."""
