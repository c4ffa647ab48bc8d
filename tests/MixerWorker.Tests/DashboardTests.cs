using System.Text.RegularExpressions;
using Microsoft.Playwright;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
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
        // Playwright gives up on a page after 5 s by default; the browser, the dashboard and the worker share a machine that may be starved.
        SetDefaultExpectTimeout(15_000);
        await using var h = await WorkerHarness.StartAsync(output);
        h.StartFeed(A);
        h.StartFeed(B);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", Long);
        await h.WaitForPublisherAsync($"ingest/{Project}/{B.Input}", Long);
        await h.WriteDesiredAsync(TwoInputScene(1));
        var worker = h.StartWorker();
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
        // The owner is the lease's holder, with the lease's epoch; the worker list shows its load against its capacity.
        await Expect(card.Locator(".project-head")).ToContainTextAsync(new Regex(@"on worker-under-test · lease epoch \d+"));
        var workerRow = page.Locator("#workers tr[data-worker='worker-under-test']");
        await Expect(workerRow).ToContainTextAsync($"{Project} (owner)");
        await Expect(workerRow).ToContainTextAsync(new Regex(@"\d+\.\d\d / \d+\.\d\d"));
        await Expect(page.Locator("#connection")).ToHaveTextAsync("live");
        await Expect(Tally(card, A.Input)).ToHaveAttributeAsync("data-tally", "onair", options);
        await Expect(Tally(card, B.Input)).ToHaveAttributeAsync("data-tally", "preview", options);
        await Expect(card.Locator($"tr[data-input='{A.Input}'] .chip")).ToHaveTextAsync("connected");
        await Expect(card.Locator(".bus[data-bus='program'] .bus-info")).ToContainTextAsync("software");
        // The program bus's thumbnail shows cam-a's colour: the worker's JPEG, through Redis, decoded by the browser.
        var thumbnail = card.Locator($"img[data-project='{Project}'][data-bus='program']");
        await WaitForColourAsync(thumbnail, A.Rgb);
        var ttl = await h.Db.KeyTimeToLiveAsync(h.Keys.Thumbnail(Project, "program"));
        Assert.InRange(ttl ?? TimeSpan.Zero, TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(5));

        // A cut swaps them; the page shows it and the command's answer.
        var entry = await h.AddCommandAsync(new CutCommand { Id = "dash-cut-1", Bus = "program" });
        await Expect(Tally(card, B.Input)).ToHaveAttributeAsync("data-tally", "onair", options);
        await Expect(Tally(card, A.Input)).ToHaveAttributeAsync("data-tally", "preview", options);
        await WaitForColourAsync(thumbnail, B.Rgb);
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

        // The worker dies: once its lease lapses the project has no owner, and the worker leaves the list.
        await worker.KillAsync();
        await Expect(card.Locator(".project-head")).ToContainTextAsync("no worker runs it", new LocatorAssertionsToContainTextOptions { Timeout = 10_000 });
        await Expect(page.Locator("#workers")).ToContainTextAsync("No live worker.", new LocatorAssertionsToContainTextOptions { Timeout = 10_000 });
        await Expect(card).ToHaveClassAsync(new Regex("orphan"));
    }

    /// <summary>Waits until the centre pixel of the image the browser shows is near <paramref name="rgb"/> (read through a canvas).</summary>
    private static async Task WaitForColourAsync(ILocator image, (byte R, byte G, byte B) rgb)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        int[] seen = [];
        while (DateTime.UtcNow < deadline)
        {
            if (await image.CountAsync() == 1)
            {
                seen = await image.EvaluateAsync<int[]>(CentrePixel);
                if (seen.Length == 3 && Colors.Near(((byte)seen[0], (byte)seen[1], (byte)seen[2]), rgb)) return;
            }
            await Task.Delay(200);
        }
        Assert.Fail($"the thumbnail did not show {rgb}; last seen [{string.Join(", ", seen)}]");
    }

    private const string CentrePixel = """
        img => {
          if (!img.complete || img.naturalWidth === 0) return [];
          const c = document.createElement("canvas");
          c.width = img.naturalWidth; c.height = img.naturalHeight;
          const g = c.getContext("2d");
          g.drawImage(img, 0, 0);
          const d = g.getImageData(img.naturalWidth >> 1, img.naturalHeight >> 1, 1, 1).data;
          return [d[0], d[1], d[2]];
        }
        """;

    private static ILocator Tally(ILocator card, string input) => card.Locator($"tr[data-input='{input}'] .tally[data-bus='program']");
}
