"""The page: `build_demo(studio)` lays out the components and wires every event; `launch_options()` gives the
page-wide theme, CSS and <head> that Gradio 6 takes in `launch()`.

    header (model, device, what it knows)
    [ player | task tabs: Find a moment · Highlights · Dense captions · Ask · Chat ; answer ; status ]
    timeline (Plotly in gr.HTML, full width, the whole video with a range slider to zoom; clicks seek the player)
    [ ranked moments | exports ]
    result JSON

Every model event shares one queue slot (`concurrency_id="gpu"`, limit 1) and has an explicit `api_name`. Grounding,
highlights and captions stream: on a long video the outputs update after each window (the progress bar reads
"Window k/n"), and an API client receives the final answer.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import plotly

from videoexpert import VIDEO_SUFFIXES

from .handlers import Studio
from .views import header_html, moments_html

STATIC = Path(__file__).resolve().parent / "static"
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"  # plotly.js 4.x, offline
GPU = dict(concurrency_id="gpu", concurrency_limit=1)


def _read(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def launch_options() -> dict:
    """theme/css/head for `demo.launch(...)` (Gradio 6 moved them from `gr.Blocks` to `launch`)."""
    theme = gr.themes.Soft(primary_hue="blue", neutral_hue="slate",
                           font=["Inter", "system-ui", "Segoe UI", "Roboto", "sans-serif"],  # no web fonts: works offline
                           font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])
    return dict(theme=theme, css=_read("studio.css"))


def example_videos(folder: str | Path | None) -> list[str]:
    if folder is None or not Path(folder).is_dir():
        return []
    return sorted(str(p) for p in Path(folder).iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)


def build_demo(studio: Studio, examples_dir: str | Path | None = None, queue_size: int = 16) -> gr.Blocks:
    gr.set_static_paths([str(PLOTLY_JS)])  # served in place at /gradio_api/file=<path>, no CDN needed
    examples = example_videos(examples_dir)

    with gr.Blocks(title="VideoExpert Studio", delete_cache=(3600, 3600)) as demo:
        gr.HTML(header_html(studio.info), elem_id="vx-header")

        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=420):
                video = gr.Video(label="Video", sources=["upload"], format=None, elem_id="vx-player", height=400,
                                 include_audio=True, buttons=["download"])
                if examples:
                    gr.Examples(examples, inputs=[video], label="Example videos", examples_per_page=6)
            with gr.Column(scale=4, min_width=360, elem_id="vx-tasks"):
                with gr.Tabs():
                    with gr.Tab("Find a moment", id="grounding"):
                        g_query = gr.Textbox(label="When does…", placeholder="the red circle moves left",
                                             max_lines=2, elem_id="vx-ground-query")
                        g_run = gr.Button("Find the moment", variant="primary", elem_id="vx-ground-run")
                    with gr.Tab("Highlights", id="highlight"):
                        h_query = gr.Textbox(label="Highlights of…", placeholder="a goal is scored", max_lines=2)
                        h_k = gr.Slider(1, 10, value=5, step=1, label="Top moments")
                        h_run = gr.Button("Find highlights", variant="primary")
                    with gr.Tab("Dense captions", id="captioning"):
                        gr.Markdown("Describe the whole video, each sentence with its time.")
                        c_run = gr.Button("Caption the video", variant="primary")
                    with gr.Tab("Ask", id="qa"):
                        a_question = gr.Textbox(label="Question", placeholder="What does the person pick up?",
                                                max_lines=3)
                        a_options = gr.Textbox(label="Options (optional, one per line: multiple choice)",
                                               lines=3, placeholder="a cup\na book\na phone")
                        a_run = gr.Button("Ask", variant="primary")
                    with gr.Tab("Chat", id="chat"):
                        chatbot = gr.Chatbot(label="Chat about the video", height=260, elem_id="vx-chat")
                        with gr.Row():
                            chat_box = gr.Textbox(show_label=False, placeholder="Ask anything about the video…",
                                                  scale=5, max_lines=3)
                            chat_send = gr.Button("Send", variant="primary", scale=1, min_width=80)
                        gr.Markdown("Each message is answered on its own, as a grounded question with its "
                                    "evidence on the timeline; the model has no memory of earlier turns.",
                                    elem_classes="vx-note")
                answer = gr.Markdown(elem_id="vx-answer")
                status = gr.Markdown(elem_id="vx-status", elem_classes="vx-note")

        timeline = gr.HTML(
            value=None, elem_id="vx-timeline", js_on_load=_read("timeline.js"),
            html_template=('<div class="vx-tl-legend"><b>Timeline</b><span><i class="vx-sw vx-sw-bar"></i>predicted '
                           'moments (#1 = answer, fainter = ranked alternatives)</span><span><i class="vx-sw '
                           'vx-sw-curve"></i>saliency</span><span><i class="vx-sw vx-sw-tick"></i>frames the model '
                           'saw</span><span><i class="vx-sw vx-sw-head"></i>playhead</span><span class="vx-hint">'
                           'click to play from there · drag the slider below (or a box) to zoom, double-click to '
                           'see it all</span></div>'
                           '<div class="vx-tl" style="width:100%;height:360px"></div>'
                           '<div class="vx-tl-empty">The timeline appears here: segments, saliency curve and the '
                           'frames the model saw. Click any of them to jump the player there.</div>'),
            head=f'<script src="/gradio_api/file={PLOTLY_JS}"></script>', label="Timeline",
            container=True, padding=True)

        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=360):
                moments = gr.HTML(moments_html(None), label="Moments", elem_id="vx-moments",
                                  js_on_load=_read("moments.js"), container=True, padding=True)
            with gr.Column(scale=2, min_width=320, elem_id="vx-exports"):
                files = gr.File(label="Result files (JSON · SRT · WebVTT)", file_count="multiple",
                                interactive=False, elem_id="vx-files", height=120)
                with gr.Row():
                    clip_btn = gr.Button("Cut top moment (mp4)", size="sm")
                    reel_btn = gr.Button("Highlight reel (mp4)", size="sm")
                reel_k = gr.Slider(1, 10, value=5, step=1, label="Moments in the reel")
                clip_file = gr.File(label="Video export", interactive=False, elem_id="vx-clip", visible=False)

        with gr.Accordion("Result JSON (the API's schema)", open=False):
            result = gr.JSON(label="Result", elem_id="vx-result")

        outputs = [result, answer, timeline, moments, files, status]
        g_run.click(studio.ground, [video, g_query], outputs, api_name="ground", **GPU)
        g_query.submit(studio.ground, [video, g_query], outputs, api_name="ground_submit",
                       api_visibility="undocumented", **GPU)
        h_run.click(studio.highlights, [video, h_query, h_k], outputs, api_name="highlights", **GPU)
        h_query.submit(studio.highlights, [video, h_query, h_k], outputs, api_name="highlights_submit",
                       api_visibility="undocumented", **GPU)
        c_run.click(studio.captions, [video], outputs, api_name="captions", **GPU)
        a_run.click(studio.ask, [video, a_question, a_options], outputs, api_name="ask", **GPU)
        chat_outputs = [chatbot, chat_box, *outputs]
        chat_send.click(studio.chat, [chat_box, chatbot, video], chat_outputs, api_name="chat", **GPU)
        chat_box.submit(studio.chat, [chat_box, chatbot, video], chat_outputs, api_name="chat_submit",
                        api_visibility="undocumented", **GPU)

        reveal = dict(fn=lambda: gr.File(visible=True), inputs=None, outputs=clip_file, api_visibility="private",
                      queue=False, show_progress="hidden")
        clip_btn.click(studio.export_clip, [video, result], clip_file, api_name="export_clip",
                       concurrency_id="export", concurrency_limit=1).success(api_name="show_clip", **reveal)
        reel_btn.click(studio.export_reel, [video, result, reel_k], clip_file, api_name="export_reel",
                       concurrency_id="export", concurrency_limit=1).success(api_name="show_reel", **reveal)
        video.change(studio.clear, [video], [*outputs, chatbot, chat_box, clip_file], api_name="clear",
                     api_visibility="private", queue=False, show_progress="hidden")

    demo.queue(max_size=queue_size, default_concurrency_limit=1)
    return demo


__all__ = ["build_demo", "launch_options", "example_videos", "PLOTLY_JS"]
