"""newswatch's downloader middlewares, one per module, wired in crawler/settings.py."""
