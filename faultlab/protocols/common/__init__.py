"""Pieces more than one protocol uses: identifier rings (Chord, Dynamo)."""
