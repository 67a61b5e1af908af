"""The scoring pipeline's parts: input loading, colour decoding, results."""
