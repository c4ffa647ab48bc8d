using System.Text.RegularExpressions;
using Microsoft.Playwright;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using Xunit;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;
using static MixerWorker.Tests.WorkerHarness;

namespace MixerWorker.Tests;

/// <summary>`ctl dashboard` in a real browser (Debian's Chromium, driven by Playwright) against a worker with a live project.</summary>
public sealed class DashboardTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0, Input) with { Width = 160, Height = 90 };
    private static readonly FeedSpec B = FeedSpec.Numbered(1, InputB) with { Width = 160, Height = 90 };
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(20);
    private const string Chromium = "/usr/bin/chromium";

    [Fact]
    public async Task The_dashboard_shows_the_live_project_and_its_tally_follows_a_cut()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: ./run.sh test installs Debian's chromium package");
        await using var h = await WorkerHarness.StartAsync(output);
        h.StartFeed(A);
        h.StartFeed(B);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", Long);
        await h.WaitForPublisherAsync($"ingest/{Project}/{B.Input}", Long);
        await h.WriteDesiredAsync(TwoInputScene(1));
        h.StartWorker();
        await h.WaitForStatusAsync(s => s.Inputs.Values.All(i => i.State == ConnectionState.Connected) && s.Buses["program"].Output == ConnectionState.Connected, Long);

        var port = MetricsScrape.FreeTcpPort();
        await using var dashboard = WorkerProcess.Start(h.Environment(), output, "ctl", "dashboard", "--port", port.ToString());
        await dashboard.WaitForOutputAsync(new Regex(@"dashboard on http://\S+"), _ => true, Long);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            ChromiumSandbox = false,
            // Without these Chromium tries to reach Google's services at every start, which a closed network refuses.
            Args = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        var consoleErrors = new List<string>();
        page.Console += (_, m) => { if (m.Type == "error") consoleErrors.Add(m.Text); };
        await page.GotoAsync($"http://127.0.0.1:{port}/");

        var card = page.Locator($"section.project[data-project='{Project}']");
        var options = new LocatorAssertionsToHaveAttributeOptions { Timeout = 15_000 };
        await Expect(card).ToBeVisibleAsync(new LocatorAssertionsToBeVisibleOptions { Timeout = 15_000 });
        await Expect(card.Locator(".project-head")).ToContainTextAsync("on worker-under-test");
        await Expect(page.Locator("#connection")).ToHaveTextAsync("live");
        await Expect(Tally(card, A.Input)).ToHaveAttributeAsync("data-tally", "onair", options);
        await Expect(Tally(card, B.Input)).ToHaveAttributeAsync("data-tally", "preview", options);
        await Expect(card.Locator($"tr[data-input='{A.Input}'] .chip")).ToHaveTextAsync("connected");
        await Expect(card.Locator(".bus[data-bus='program'] .bus-info")).ToContainTextAsync("software");

        // A cut swaps them; the page shows it and the command's answer.
        var entry = await h.AddCommandAsync(new CutCommand { Id = "dash-cut-1", Bus = "program" });
        await Expect(Tally(card, B.Input)).ToHaveAttributeAsync("data-tally", "onair", options);
        await Expect(Tally(card, A.Input)).ToHaveAttributeAsync("data-tally", "preview", options);
        var lastCommand = card.Locator(".last-command");
        await Expect(lastCommand).ToContainTextAsync(entry, new LocatorAssertionsToContainTextOptions { Timeout = 10_000 });
        await Expect(lastCommand).ToContainTextAsync("applied");

        // A refused command shows up with its reason among the errors.
        await h.AddCommandAsync("""{"type":"cut","id":"dash-bad","bus":"aux9"}""");
        await Expect(card.Locator("ul.events")).ToContainTextAsync("bus 'aux9' is not in the scene", new LocatorAssertionsToContainTextOptions { Timeout = 10_000 });
        await Task.Delay(1500); // the status key reports the same error a moment later: still shown once
        Assert.Equal(1, await card.Locator("ul.events li", new LocatorLocatorOptions { HasTextString = "aux9" }).CountAsync());
        var text = await card.InnerTextAsync();
        Assert.DoesNotContain("null", text);
        Assert.DoesNotContain("undefined", text);

        var shot = Repo.PathOf("artifacts/dashboard/dashboard.png");
        Directory.CreateDirectory(Path.GetDirectoryName(shot)!);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = shot, FullPage = true });
        output.WriteLine($"screenshot: {shot}");
        Assert.True(new FileInfo(shot).Length > 10_000);
        Assert.Empty(consoleErrors);
        AssertNoSecretIn(await page.ContentAsync());
    }

    private static ILocator Tally(ILocator card, string input) => card.Locator($"tr[data-input='{input}'] .tally[data-bus='program']");
}
