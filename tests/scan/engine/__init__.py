"""Tests of the scan engine, its service layer and the scan CLI."""
