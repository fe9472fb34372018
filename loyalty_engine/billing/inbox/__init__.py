"""The Stripe webhook inbox: verified, stored once by Stripe's event id, processed by a worker
into our events (the one door), in any order and any number of times with one effect."""
