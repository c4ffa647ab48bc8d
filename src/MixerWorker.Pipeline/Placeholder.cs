namespace MixerWorker.Pipeline; internal static class Placeholder {}
