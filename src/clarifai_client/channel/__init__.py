"""Channel factories (module path kept from the published client: channel.clarifai_channel)."""

from clarifai_client.channel.clarifai_channel import ClarifaiChannel, InsecureCredentialsWarning

__all__ = ["ClarifaiChannel", "InsecureCredentialsWarning"]
