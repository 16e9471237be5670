"""Event, money and pricing models shared by every spendwatch package."""
