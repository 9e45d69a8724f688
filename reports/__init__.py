"""What a run leaves for people: the run summary, the model card, and the clip pictures."""
