"""The prompt panel: type what to mask, predict on Enter, tune the threshold, accept the object."""

from __future__ import annotations

import logging

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import (
    QCompleter,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

logger = logging.getLogger(__name__)

SLIDER_STEPS = 100  # the threshold slider moves in steps of 0.01
WARNING_STYLE = "color: #c62828"  # not bold, so the warning fits one line at 300 px
# Styles give push buttons a minimum width of about 80 px; less lets the panel get narrower.
MIN_BUTTON_WIDTH = 50


class PromptPanel(QWidget):
    """Emits predict_requested on Enter, threshold_changed while the slider moves, and
    accept_requested(label) when the user keeps the previewed mask as an object.

    The panel only emits requests. Its owner runs the prediction in a worker and calls
    set_busy, set_prediction_ready and clear_prediction as the work goes on.
    """

    predict_requested = Signal(str)  # prompt
    threshold_changed = Signal(float)
    accept_requested = Signal(str, str)  # label, prompt
    discard_requested = Signal()
    show_anyway_requested = Signal()

    def __init__(self, threshold: float = 0.5, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_warning = QLabel(self)
        self.model_warning.setStyleSheet(WARNING_STYLE)
        self.model_warning.setWordWrap(True)  # one line in a normal panel, more when narrow
        self.model_warning.hide()
        self.prompt_edit = QLineEdit(self)
        self.prompt_edit.setPlaceholderText('What to mask, e.g. "car" or "the dog on the left"')
        self.prompt_edit.setClearButtonEnabled(True)
        self.prompt_edit.returnPressed.connect(self.request_prediction)

        self.predict_button = QPushButton("Predict", self)
        self.predict_button.clicked.connect(self.request_prediction)
        self.busy_bar = QProgressBar(self)
        self.busy_bar.setRange(0, 0)  # a range of 0..0 makes the bar an activity indicator
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setMaximumHeight(6)
        self.busy_bar.hide()

        self.threshold_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.threshold_slider.setRange(1, SLIDER_STEPS - 1)
        self.threshold_slider.setValue(round(threshold * SLIDER_STEPS))
        self.threshold_slider.valueChanged.connect(self._on_slider_moved)
        self.threshold_label = QLabel(self)
        self.presence_label = QLabel(self)
        self.presence_label.setWordWrap(True)
        # The presence score can be wrong, so a veto never hides the mask for good.
        self.show_anyway_button = QPushButton("Show mask anyway", self)
        self.show_anyway_button.setToolTip(
            "Show the predicted mask although the model thinks the prompt is not in this image"
        )
        self.show_anyway_button.clicked.connect(self._on_show_anyway)
        self.show_anyway_button.hide()

        self.label_edit = QLineEdit(self)
        self.label_edit.setPlaceholderText("Label (defaults to the prompt)")
        self._label_names = QStringListModel(self)
        completer = QCompleter(self._label_names, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.label_edit.setCompleter(completer)
        self.label_edit.returnPressed.connect(self.request_accept)
        self.accept_button = QPushButton("Accept", self)
        self.accept_button.setToolTip("Keep the previewed mask as an object with this label")
        self.accept_button.clicked.connect(self.request_accept)
        self.discard_button = QPushButton("Discard", self)
        self.discard_button.clicked.connect(self.discard_requested)

        self._build_layout()
        self._prompt_of_preview = ""
        self._update_threshold_label()
        self.clear_prediction()

    def _build_layout(self) -> None:
        prompt_row = QHBoxLayout()
        prompt_row.addWidget(self.prompt_edit, 1)
        prompt_row.addWidget(self.predict_button)
        threshold_row = QHBoxLayout()
        threshold_row.addWidget(self.threshold_slider, 1)
        threshold_row.addWidget(self.threshold_label)
        accept_row = QHBoxLayout()
        accept_row.addWidget(self.accept_button)
        accept_row.addWidget(self.discard_button)
        form = QFormLayout()
        form.addRow("Threshold", threshold_row)
        form.addRow("Label", self.label_edit)
        for button in (self.predict_button, self.accept_button, self.discard_button):
            button.setMinimumWidth(MIN_BUTTON_WIDTH)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)  # the panel sits in the Annotate panel's margins
        layout.addWidget(self.model_warning)
        layout.addLayout(prompt_row)
        layout.addWidget(self.busy_bar)
        layout.addWidget(self.presence_label)
        layout.addWidget(self.show_anyway_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addLayout(form)
        layout.addLayout(accept_row)

    @property
    def threshold(self) -> float:
        return self.threshold_slider.value() / SLIDER_STEPS

    def set_threshold(self, value: float) -> None:
        self.threshold_slider.setValue(round(value * SLIDER_STEPS))

    def set_model_warning(self, text: str, tooltip: str = "") -> None:
        """Show `text` above the prompt as a warning about the model; "" hides it."""
        self.model_warning.setText(text)
        self.model_warning.setToolTip(tooltip)
        self.model_warning.setVisible(bool(text))

    def set_label_names(self, names: list[str]) -> None:
        """Set the completion list of the label box (the project's labels)."""
        self._label_names.setStringList(names)

    def request_prediction(self) -> None:
        prompt = " ".join(self.prompt_edit.text().split())
        if not prompt:
            self.presence_label.setText("Type what to mask first.")
            return
        self.predict_requested.emit(prompt)

    def request_accept(self) -> None:
        if not self.accept_button.isEnabled():
            return
        label = " ".join(self.label_edit.text().split()) or self._prompt_of_preview
        self.accept_requested.emit(label, self._prompt_of_preview)

    def set_busy(self, busy: bool) -> None:
        self.busy_bar.setVisible(busy)
        self.predict_button.setEnabled(not busy)
        if busy:
            self.presence_label.setText("Predicting…")
            # The hidden mask belongs to the previous prompt, which the new answer replaces.
            self.show_anyway_button.hide()

    @property
    def is_mask_hidden(self) -> bool:
        """Return True while the preview is empty because the presence score hid the mask."""
        return not self.show_anyway_button.isHidden()

    def set_prediction_ready(self, prompt: str, presence: float, present: bool) -> None:
        """Enable Accept for the preview of `prompt` and prefill the label with the prompt."""
        self._prompt_of_preview = prompt
        self.label_edit.setText(prompt)
        self.accept_button.setEnabled(True)
        self.discard_button.setEnabled(True)
        verdict = "found" if present else "probably not in this image; the mask is hidden"
        self.presence_label.setText(f'"{prompt}": {verdict} (presence {presence:.2f})')
        self.show_anyway_button.setVisible(not present)

    def clear_prediction(self, message: str = "") -> None:
        self._prompt_of_preview = ""
        self.accept_button.setEnabled(False)
        self.discard_button.setEnabled(False)
        self.show_anyway_button.hide()
        self.presence_label.setText(message)

    def _on_show_anyway(self) -> None:
        # Hiding the focused button would pass focus to the label box, where Enter accepts.
        self.threshold_slider.setFocus()
        self.show_anyway_button.hide()
        self.presence_label.setText(
            f'"{self._prompt_of_preview}": shown although probably not in this image'
        )
        self.show_anyway_requested.emit()

    def _on_slider_moved(self, _value: int) -> None:
        self._update_threshold_label()
        self.threshold_changed.emit(self.threshold)

    def _update_threshold_label(self) -> None:
        self.threshold_label.setText(f"{self.threshold:.2f}")
