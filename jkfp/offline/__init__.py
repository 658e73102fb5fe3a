"""村医离线 The village doctor's offline phone app: devices, the scope sent to the phone, the sync of its outbox."""
