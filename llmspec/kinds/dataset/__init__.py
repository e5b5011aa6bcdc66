"""`dataset.*`: the fine-tune and eval files, digested and their records validated."""
