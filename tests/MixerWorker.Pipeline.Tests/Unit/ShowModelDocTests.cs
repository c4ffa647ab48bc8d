using System.Text.RegularExpressions;
using MixerWorker.Pipeline.Scene;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>The examples in docs/show-model.md are what operators copy: each must parse and apply.</summary>
public partial class ShowModelDocTests
{
    [GeneratedRegex(@"```json\n(.*?)\n```", RegexOptions.Singleline)]
    private static partial Regex JsonBlock();

    private static IReadOnlyList<string> Blocks()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "worker.sln"))) dir = dir.Parent;
        Assert.NotNull(dir);
        var text = File.ReadAllText(Path.Combine(dir.FullName, "docs", "show-model.md"));
        return JsonBlock().Matches(text).Select(m => m.Groups[1].Value).ToList();
    }

    [Fact]
    public void The_scene_example_is_valid_and_every_command_example_applies_to_it()
    {
        var blocks = Blocks();
        Assert.Equal(9, blocks.Count);
        var scene = SceneJson.Parse(blocks[0]);
        var types = new List<string>();
        foreach (var json in blocks.Skip(1))
        {
            var command = SceneJson.ParseCommand(json);
            types.Add(SceneJson.CommandTypes[Array.IndexOf(CommandClasses, command.GetType())]);
            var step = ShowReducer.Apply(scene, command);
            Assert.Equal(scene.Revision + 1, step.Next.Revision);
        }
        Assert.Equal(SceneJson.CommandTypes, types);
    }

    private static readonly Type[] CommandClasses =
    [
        typeof(CutCommand), typeof(AutoCommand), typeof(FadeToBlackCommand), typeof(SetPreviewCommand),
        typeof(SetLayoutCommand), typeof(GraphicsCommand), typeof(InputAudioCommand), typeof(BusAudioCommand),
    ];
}
