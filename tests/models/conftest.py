"""Training tests use BasicSR itself, which is importable only once ``restore.models`` has
installed its fixes."""
import restore.models  # noqa: F401
