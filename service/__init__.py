"""A small FastAPI service on async SQLAlchemy: users and their notes."""
