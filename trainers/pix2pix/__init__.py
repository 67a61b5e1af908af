"""The pix2pix trainers: every generator, discriminator and loss variant of the paper."""
